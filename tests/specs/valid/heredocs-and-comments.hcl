# Comments of every style, and heredocs (plain and indented) for provision scripts.
schema_version = "1.0" // a trailing comment

/* A block comment
   over several lines. */
vm {
  name = "scripted" # the name
  provision = [
    <<EOF
set -e
mount -t bpf bpf /sys/fs/bpf
EOF
    ,
    <<-SCRIPT
      for i in 1 2 3; do
        echo "$i"
      done
    SCRIPT
  ]
}
