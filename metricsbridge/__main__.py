from metricsbridge.cli import main

main()
