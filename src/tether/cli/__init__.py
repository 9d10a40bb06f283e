"""The command line: thin commands that call the engine and print (human or --json)."""
