"""One module a subcommand: each defines add_parser(subparsers) and run(args) -> exit status."""
