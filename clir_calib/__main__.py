from clir_calib.launch import main

if __name__ == "__main__":  # not when a spawned worker process imports it (the processes executor)
    main()
