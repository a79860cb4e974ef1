from nicocomments.cli import main

main()
