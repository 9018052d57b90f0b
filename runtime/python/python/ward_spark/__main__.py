import sys

from ward_spark.job import main

sys.exit(main())
