# letdown's Piper worker: loads one voice model once, then speaks many texts through it.
# Run by letdownd as `python -c THIS_SCRIPT MODEL`. Protocol, one JSON object per line:
#   stdin:  {"text": "...", "out": "/path/to.wav", "length_scale": 1.1}
#   stdout: "ready" once the model is loaded, then "ok" or "error REASON" per request.
# Anything the libraries print goes to stderr, so stdout carries only the protocol.
import json
import os
import sys
import wave

protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
sys.stdout = sys.stderr


def reply(line):
    protocol.write(line.replace("\n", " ") + "\n")
    protocol.flush()


try:
    from piper import PiperVoice, SynthesisConfig

    voice = PiperVoice.load(sys.argv[1])
except Exception as e:  # noqa: BLE001 - any failure to load is told, then the worker ends
    reply("error cannot load the voice: %s" % e)
    sys.exit(1)
reply("ready")

for line in sys.stdin:
    try:
        job = json.loads(line)
        config = SynthesisConfig(length_scale=float(job.get("length_scale", 1.0)))
        with wave.open(job["out"], "wb") as out:
            voice.synthesize_wav(job["text"], out, syn_config=config)
        reply("ok")
    except Exception as e:  # noqa: BLE001 - one bad text must not end the worker
        reply("error %s" % e)
