"""Ward detection rules over Apache Spark (spec/spark.md).

`Rules` loads and checks a rule set (as `ward scan --rules` does) and runs
batches of JSON lines; `ward_spark.job` is the Spark job (`ward-spark`,
`python -m ward_spark`, or `spark-submit` of `ward_spark/job.py`).
"""

from ward_spark._ward import RuleScan, Rules, WardError, corpus

__all__ = ["Rules", "RuleScan", "WardError", "corpus"]
