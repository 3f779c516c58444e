from logbridge.cli import main

main()
