"""One module per `kpdet` command (see kpdet/cli.py for the contract)."""
