from vaxdrill.cli import main

main()
