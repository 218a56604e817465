"""Code shared by every Lingua service: settings, Redis, Lua, gRPC bootstrap, clock."""
