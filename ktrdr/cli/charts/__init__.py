"""Pictures of a backtest: in the terminal (braille, rich), as SVG (written by hand) and as
PNG (Pillow), all drawn from one layout (``layout``). Imported only by the commands that
draw, so ``ktrdr --help`` never loads them."""
