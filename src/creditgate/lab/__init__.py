"""The strategy lab: evaluate candidate policies over a population and report on them."""
