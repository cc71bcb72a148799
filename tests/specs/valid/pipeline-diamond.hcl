# A diamond: d needs b and c, which both need a. Ties in the order follow declaration order, so
# the order is stable: a, c, b, d (c is declared before b).
schema_version = "1.0"

pipeline {
  name = "diamond"
  stages = [
    { name = "d", commands = ["echo d"], dependencies = ["b", "c"] },
    { name = "a", commands = ["echo a"] },
    { name = "c", commands = ["echo c"], dependencies = ["a"], timeout = "90s" },
    { name = "b", commands = ["echo b"], dependencies = ["a"], inputs = ["src/**/*.rs"], artifacts = ["build/b/*"] },
  ]
}
