"""HTTP routers: thin handlers over the engines and the public snapshot."""
