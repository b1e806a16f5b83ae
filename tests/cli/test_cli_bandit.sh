#!/usr/bin/env bash
# simulate and eval --protocol replay end to end on the synthetic catalogue: the logged CSV's
# layout and determinism, the replay table's JSON shape, the curve file, and clear errors for a
# malformed log and bad flags. (The ML-100K bar is the [realdata] case of test_bandit.)
source "$(dirname "$0")/lib.sh"

expect_ok "simulate --help" "$BIN" simulate --help
grep -q -- "--candidates" out.txt || fail "simulate --help lists no --candidates"
expect_ok "generate" "$BIN" generate --out syn --users 300 --items 200 --interactions 6000 --seed 3 --json

expect_ok "simulate" "$BIN" simulate --data syn/ratings.csv --out log.csv --seed 2 --events 3000 --candidates 5 --json
[ "$(json_get out.txt 'j["events"] == 3000 and j["candidates"] == 5 and j["hidden_model"] == "svd" and 0 < j["click_rate"] <= j["best_click_rate"] <= 1')" = True ] \
  || fail "simulate json $(head -c 300 out.txt)"
[ "$(head -1 log.csv)" = "event,user,item,reward,propensity,candidates" ] || fail "log header"
[ "$(wc -l < log.csv)" = 3001 ] || fail "log lines $(wc -l < log.csv)"
# Every line: propensity 1/5, 5 distinct candidates holding the shown item.
/usr/bin/python3 - log.csv <<'PY' || fail "log rows"
import sys
rows = open(sys.argv[1]).read().splitlines()[1:]
for n, line in enumerate(rows):
    event, user, item, reward, prop, cands = line.split(",")
    c = cands.split("|")
    assert int(event) == n and float(prop) == 0.2 and len(set(c)) == 5 and item in c and reward in ("0", "1"), line
PY
expect_ok "simulate again" "$BIN" simulate --data syn/ratings.csv --out log2.csv --seed 2 --steps 3000 --candidates 5 --quiet
cmp -s log.csv log2.csv || fail "same seed gave a different log"
expect_ok "simulate seed 3" "$BIN" simulate --data syn/ratings.csv --out log3.csv --seed 3 --events 3000 --candidates 5 --quiet
cmp -s log.csv log3.csv && fail "another seed gave the same log"
expect_ok "simulate bernoulli" "$BIN" simulate --data syn/ratings.csv --out logb.csv --seed 2 --events 500 --reward bernoulli --json
[ "$(json_get out.txt 'j["reward"]')" = bernoulli ] || fail "bernoulli json"

expect_ok "replay" "$BIN" eval --protocol replay --data syn/ratings.csv --log log.csv --model ials --factors 8 --epochs 5 \
  --seed 1 --steps 300 --curve curve.jsonl --curve-every 50 --json
[ "$(json_get out.txt '[p["policy"] for p in j["policies"]] == ["random", "greedy", "egreedy", "linucb", "linucb-hybrid", "thompson"]')" = True ] \
  || fail "replay policies $(head -c 300 out.txt)"
[ "$(json_get out.txt 'all(p["kept"] == 300 and p["scanned"] >= 300 and abs(p["ctr"] - p["reward"] / 300) < 1e-12 and p["snips"] == p["ctr"] for p in j["policies"])')" = True ] \
  || fail "replay counts $(head -c 600 out.txt)"
[ "$(json_get out.txt 'j["bandit"]["context_dims"] == 8 and j["bandit"]["arm_dims"] == 18 and j["bandit"]["ts_v"] == 0.02 and j["protocol"] == "replay"')" = True ] || fail "replay bandit json"
cp out.txt replay1.json
# The curve: one line per 50 kept events per policy, ending at the policy's total.
/usr/bin/python3 - curve.jsonl replay1.json <<'PY' || fail "curve file"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
final = {p["policy"]: p for p in json.load(open(sys.argv[2]))["policies"]}
assert len(lines) == 6 * 6, len(lines)
for name, p in final.items():
    pts = [l for l in lines if l["policy"] == name]
    assert [l["step"] for l in pts] == [50, 100, 150, 200, 250, 300]
    assert pts[-1]["reward"] == p["reward"] and all(a["reward"] <= b["reward"] for a, b in zip(pts, pts[1:]))
PY
expect_ok "replay again" "$BIN" eval --protocol replay --data syn/ratings.csv --log log.csv --model ials --factors 8 --epochs 5 \
  --seed 1 --steps 300 --json
[ "$(json_get out.txt 'j["policies"]')" = "$(json_get replay1.json 'j["policies"]')" ] || fail "same seed gave another replay"
expect_ok "replay text" "$BIN" eval --protocol replay --data syn/ratings.csv --log log.csv --model svd --factors 4 --epochs 3 \
  --policies thompson,random --steps 100
grep -q "thompson" out.txt && grep -q "snips" out.txt || fail "replay table $(cat out.txt)"

# Errors: one line naming the file, line and field.
printf 'event,user,item,reward,propensity,candidates\n0,1,2,1,0.5,2|3\n1,1,2,yes,0.5,2|3\n' > bad.csv
expect_err "bad reward" "bad.csv:3: field 'reward': 'yes' is not a number" \
  "$BIN" eval --protocol replay --data syn/ratings.csv --log bad.csv --model ials --factors 4 --epochs 1
[ "$(wc -l < err.txt)" = 1 ] || fail "bad reward: more than one line"
printf 'event,user,item,reward,propensity,candidates\n0,1,2,1,0.5,3|4\n' > bad2.csv
expect_err "shown not a candidate" "bad2.csv:2: field 'item'" \
  "$BIN" eval --protocol replay --data syn/ratings.csv --log bad2.csv --model ials --factors 4 --epochs 1
expect_err "no --log" "needs --log" "$BIN" eval --protocol replay --data syn/ratings.csv
expect_err "log without replay" "log belongs to --protocol replay" "$BIN" eval --protocol holdout --data syn/ratings.csv --log log.csv
expect_err "unknown policy" "unknown policy 'ucb'" "$BIN" eval --protocol replay --data syn/ratings.csv --log log.csv --policies ucb
expect_err "itemknn base" "no item embeddings" "$BIN" eval --protocol replay --data syn/ratings.csv --log log.csv --model itemknn --steps 10
expect_err "bad reward model" "unknown --reward" "$BIN" simulate --data syn/ratings.csv --out x.csv --reward clicks
expect_err "implicit data" "has no ratings" "$BIN" simulate --data syn/ratings.csv --rating-col -1 --out x.csv
[ ! -e x.csv ] || fail "a failed simulate wrote its output"

# Session mode (--sessions): Q-learning with function approximation and tabular against greedy
# and random, the JSON shape, the per-step curve, determinism and clear errors.
expect_ok "sessions" "$BIN" simulate --data syn/ratings.csv --sessions 60 --eval-sessions 40 --session-steps 4 \
  --candidates 10 --seed 2 --hidden 8 --curve sess.jsonl --json
[ "$(json_get out.txt '[p["policy"] for p in j["policies"]] == ["random", "greedy", "qlearn-linear", "qlearn-mlp", "qlearn-tabular"] and j["mode"] == "sessions" and j["session_steps"] == 4 and j["candidates"] == 10')" = True ] \
  || fail "sessions json $(head -c 400 out.txt)"
[ "$(json_get out.txt 'all(0 <= p["reward_per_session"] <= 4 and abs(sum(p["reward_at_step"]) - p["reward_per_session"]) < 1e-9 for p in j["policies"]) and j["policies"][2]["training"]["updates"] == 60 * 4 - 31 and j["policies"][4]["training"]["states"] == 4 * 9 and j["policies"][4]["training"]["actions"] == 8')" = True ] \
  || fail "sessions rewards $(head -c 600 out.txt)"
[ "$(wc -l < sess.jsonl)" = 20 ] || fail "sessions curve lines $(wc -l < sess.jsonl)"
cp out.txt sess1.json
expect_ok "sessions again" "$BIN" simulate --data syn/ratings.csv --sessions 60 --eval-sessions 40 --session-steps 4 \
  --candidates 10 --seed 2 --hidden 8 --json
# (training seconds aside)
same='[(p["policy"], p["reward_at_step"], p["rating"], p.get("training", {}).get("train_reward_per_session")) for p in j["policies"]]'
[ "$(json_get out.txt "$same")" = "$(json_get sess1.json "$same")" ] || fail "same seed gave other sessions"
expect_ok "sessions text" "$BIN" simulate --data syn/ratings.csv --sessions 20 --eval-sessions 10 --session-steps 3 \
  --candidates 8 --policies greedy,qlearn-linear --gamma 0 --quiet
grep -q "qlearn-linear" out.txt && grep -q "reward/session" out.txt || fail "sessions table $(cat out.txt)"
expect_err "sessions policy" "unknown session policy 'dqn'" "$BIN" simulate --data syn/ratings.csv --sessions 5 --policies dqn
expect_err "sessions gamma" "gamma must be in" "$BIN" simulate --data syn/ratings.csv --sessions 5 --gamma 2 --policies qlearn-mlp
expect_err "sessions tabular lr" "learning rate must be in" "$BIN" simulate --data syn/ratings.csv --sessions 5 --tabular-lr 2 --policies qlearn-tabular
expect_err "sessions steps" "cannot exceed --candidates" "$BIN" simulate --data syn/ratings.csv --sessions 5 --session-steps 20 --candidates 10
finish
