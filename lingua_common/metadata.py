"""gRPC metadata keys the services agree on."""

# The gateway replica that should receive a job's asynchronous answers.
REPLY_TO_METADATA_KEY = "lingua-reply-to"
