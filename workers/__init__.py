"""RQ jobs (jobs.py) and the worker process (`python -m workers`)."""
