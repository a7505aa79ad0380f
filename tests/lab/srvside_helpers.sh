# tests/lab/srvside_helpers.sh - reading doctor --server reports saved as
# $LAB_DIR/NAME.json, shared by server_side.sh and server_limits.sh.
# sev NAME ID: the severity of finding ID in NAME.json, or "absent"
sev() { python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
print(next((f["severity"] for f in d["findings"] if f["id"]==sys.argv[2]), "absent"))' "$LAB_DIR/$1.json" "$2"; }
# field NAME ID KEY: title / evidence / fix lines of finding ID, one string
field() { python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
f=next((f for f in d["findings"] if f["id"]==sys.argv[2]), None)
if f is None: print("<absent>"); sys.exit()
k=sys.argv[3]
if k=="fix": print("\n".join(l for x in f["fix"] for l in x["lines"]))
elif k=="evidence": print("\n".join(f["evidence"]))
else: print(f[k])' "$LAB_DIR/$1.json" "$2" "$3"; }
