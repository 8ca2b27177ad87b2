"""Worker jobs. Each module: NAME, HELP, add_arguments(parser), run(args, reporter) -> dict."""
