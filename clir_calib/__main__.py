from clir_calib.cli import main

main()
