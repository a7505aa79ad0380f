#!/bin/bash
# contrib/ansible/sshdoctor.yml run for real by Debian's ansible-core from the
# lab's client namespace against the lab server: audit on the host (over ssh),
# connect from the control node to the host and to a closed port, one JSON
# report. Ansible's and sshdoctor's files stay in the lab directory.
. "$(dirname "$0")/lib.sh"

command -v ansible-playbook >/dev/null
ok $? "ansible-playbook installed (scripts/deps.sh: ansible-core)" || { done_testing; exit 1; }
had_ansible_dir=0
[ -e /root/.ansible ] && had_ansible_dir=1
lab_setup || { ok 1 "lab up"; done_testing; exit 1; }

A="$LAB_DIR/ansible"
mkdir -p "$A/local" "$A/remote" "$LAB_DIR/home" "$LAB_DIR/rstate"
: >"$A/ansible.cfg"	# none of the machine's /etc/ansible
cat >"$A/inventory.yml" <<INV
all:
  hosts:
    lab:
      sshdoctor_target: lab
INV
lab_c env LC_ALL=C.UTF-8 HOME="$LAB_DIR/home" XDG_STATE_HOME="$LAB_DIR/state" \
	ANSIBLE_CONFIG="$A/ansible.cfg" ANSIBLE_LOCAL_TEMP="$A/local" ANSIBLE_REMOTE_TEMP="$A/remote" \
	ANSIBLE_PIPELINING=1 ANSIBLE_HOST_KEY_CHECKING=0 ANSIBLE_NOCOLOR=1 \
	ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_SSH_ARGS="-F $LAB_SSH_CONFIG" \
	timeout 300 ansible-playbook -i "$A/inventory.yml" "$ROOT/contrib/ansible/sshdoctor.yml" \
	-e "sshdoctor_bin=$SSHDOCTOR" -e "sshdoctor_report=$A/report.json" \
	-e '{"sshdoctor_logs_since": ""}' \
	-e "{\"sshdoctor_environment\": {\"HOME\": \"$LAB_DIR/home\", \"XDG_STATE_HOME\": \"$LAB_DIR/rstate\"}}" \
	-e "{\"sshdoctor_connect_args\": [\"-F\", \"$LAB_SSH_CONFIG\", \"--timeout\", \"3s\", \"lab:2299\"]}" \
	>"$A/out" 2>&1
rc=$?
is "$rc" 0 "ansible-playbook exit 0"
[ "$rc" = 0 ] || tail -30 "$A/out" | sed 's/^/# /'
r=$(cat "$A/report.json" 2>/dev/null)
python3 -c 'import json,sys; json.load(sys.stdin)' <<<"$r" 2>/dev/null
ok $? "report: valid JSON"
q() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)" <<<"$r" 2>/dev/null || echo '(no report)'; }
is "$(q 'd["hosts"]["lab"][0]["command"]')" audit "report: the host's audit run"
like "$(q 'd["hosts"]["lab"][0]["status"]')" '^(ok|warning|critical)$' "report: its status"
is "$(q 'all(f["severity"] in ("warning","critical") for f in d["hosts"]["lab"][0]["findings"])')" True \
	"report: only warnings and worse"
is "$(q 'd["connect"]["status"]')" critical "report: connect critical (the closed port)"
like "$(q '" ".join(f["id"]+":"+f["title"] for f in d["connect"]["findings"])')" "tcp.refused:.*2299" \
	"report: tcp.refused names lab:2299"
is "$(q 'sum(1 for f in d["connect"]["findings"] if "2299" not in f["title"])')" 0 \
	"report: the lab's own port has no failure"
[ "$had_ansible_dir" = 1 ] || [ ! -e /root/.ansible ]
ok $? "no ~/.ansible left on the machine"
lab_down
trap - EXIT INT TERM
done_testing
