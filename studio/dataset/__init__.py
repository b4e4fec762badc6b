"""The curated dataset: the items that passed every stage (05-curated.jsonl), and the dataset to share."""
