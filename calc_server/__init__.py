"""calc-server: the aiohttp WebSocket server that owns the one shared calculation."""
