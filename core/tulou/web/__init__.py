"""The HTTP side: app factory, problem responses, middleware, health checks."""
