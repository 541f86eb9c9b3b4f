from sequencer.cli import main

main()
