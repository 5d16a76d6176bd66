from clir_calib.launch import main

main()
