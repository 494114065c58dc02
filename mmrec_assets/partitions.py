"""Partitions shared by the per-batch assets, the batch job and the sensor."""

from dagster import DynamicPartitionsDefinition

batch_partitions = DynamicPartitionsDefinition(name="batches")
