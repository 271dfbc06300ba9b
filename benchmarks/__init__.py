"""Side-by-side benchmarks of aiocql and other Cassandra clients: ``python -m benchmarks.run --help``."""
