"""What operator tools (the `lingua` command, the console) read from the services: gRPC
calls with the operator's credentials, and the joins that turn their answers into rows."""
