import sys

from deploybench.cli import main

sys.exit(main())
