from govchain.services.cli.app import main

main()
