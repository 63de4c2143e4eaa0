"""What ``spark-submit`` runs (``creditgate_main.py``): see that file."""
