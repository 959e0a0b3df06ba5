#!/usr/bin/env bash
# A deterministic bash workload, pure bash (no external command), run by
# tests/real_programs.rs with and without libpoolalloc.so preloaded: associative and indexed
# arrays, string substitution and slicing, functions, here-strings, arithmetic.
set -u
scale=${1:-1}
seed=12345
rnd() { seed=$(( (seed * 1103515245 + 12345) % 2147483648 )); r=$(( seed >> 8 )); }

syll=(ka lo mi nu pe ra si to vu xe ba de fi go hu ja)
declare -A freq=()
declare -a words=()
for ((i = 0; i < 400; i++)); do
    w=""
    rnd; n=$(( r % 3 + 1 ))
    for ((j = 0; j < n; j++)); do rnd; w+=${syll[r % 16]}; done
    words+=("$w")
done

text=""
for ((i = 0; i < 3000 * scale; i++)); do
    rnd; w=${words[r % 400]}
    freq[$w]=$(( ${freq[$w]:-0} + 1 ))
    text+="$w "
done
echo "distinct: ${#freq[@]}, text: ${#text} chars"

# Insertion sort of the distinct words by count, then name.
keys=("${!freq[@]}")
sorted=()
for k in "${keys[@]}"; do
    i=${#sorted[@]}
    sorted+=("$k")
    while (( i > 0 )); do
        p=${sorted[i-1]}
        if (( freq[$p] < freq[$k] )) || { (( freq[$p] == freq[$k] )) && [[ $p > $k ]]; }; then
            sorted[i]=$p; sorted[i-1]=$k; i=$(( i - 1 ))
        else
            break
        fi
    done
done
for k in "${sorted[@]:0:10}"; do printf '%-10s %4d\n' "$k" "${freq[$k]}"; done

# String rewriting.
t=${text//ka/KA}
t=${t//lo /LO-}
t=${t^^}
echo "rewritten: ${#t} chars, starts ${t:0:40}"
IFS=' ' read -r -a parts <<< "${t//-/ }"
echo "parts: ${#parts[@]}"

# A stack of strings that grows and shrinks.
stack=()
for ((i = 0; i < 5000 * scale; i++)); do
    rnd
    if (( r % 3 == 0 && ${#stack[@]} > 0 )); then
        unset 'stack[${#stack[@]}-1]'
    else
        stack+=("item-$i-${words[r % 400]}")
    fi
done
echo "stack: ${#stack[@]}, top ${stack[${#stack[@]}-1]}"
sum=0
for s in "${stack[@]}"; do sum=$(( (sum * 31 + ${#s}) % 1000000007 )); done
echo "checksum: $sum"
