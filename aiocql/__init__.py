"""aiocql: an asyncio-native client for Apache Cassandra."""
