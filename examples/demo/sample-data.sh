#!/usr/bin/env bash
# sample-data.sh DIR: writes three synthetic backups of a fictitious
# case-processing system. Every name, number and case is invented.
set -euo pipefail
dir=$1
mkdir -p "$dir"
first=(Amira Jonas Leyla Mateo Nadia Omar Sofia Tarek Yusuf Zara)
last=(Haddad Novak Petrov Rahimi Santos Silva Tanaka Weber Yilmaz Zhou)
status=(granted refused pending appeal)
for date in 2019-11-30 2020-05-31 2020-11-30; do
  work=$(mktemp -d)
  {
    echo "case_id,name,national_id,birth_date,health_note,decision"
    for i in $(seq 1 400); do
      printf 'C-%s-%04d,%s %s,FAKE-%08d,19%02d-%02d-%02d,synthetic note %d,%s\n' "${date:0:4}" "$i" \
        "${first[RANDOM % 10]}" "${last[RANDOM % 10]}" $((RANDOM * RANDOM % 100000000)) \
        $((50 + RANDOM % 50)) $((1 + RANDOM % 12)) $((1 + RANDOM % 28)) "$i" "${status[RANDOM % 4]}"
    done
  } >"$work/cases.csv"
  printf 'casework export %s\nsynthetic data for the cryptoshred demo\n' "$date" >"$work/README.txt"
  tar -C "$work" -cf "$dir/casework-$date.tar" cases.csv README.txt
  rm -rf "$work"
done
