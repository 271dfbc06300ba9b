pytest_plugins = ["aiocql.testing.pytest_plugin"]
