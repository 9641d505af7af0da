from ktrdr.cli.app import main

main()
