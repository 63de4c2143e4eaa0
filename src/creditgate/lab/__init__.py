"""The risk team's strategy lab: simulate, compare and calibrate candidate policies over a
population, on the compiled program (DuckDB by default, Spark for clusters)."""
