"""Neural networks and backends: ASR, MT, TTS, faces, lip-sync."""
