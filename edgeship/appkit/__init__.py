"""The mobile app kit: an artifact, its metadata, vocabulary and sample Android/iOS code around it."""
