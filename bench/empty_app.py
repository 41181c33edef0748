"""The baseline for bench/webhook.py: Flask answering 200 and doing nothing."""

from flask import Flask, request

app = Flask(__name__)


@app.post("/callback")
def callback():
    request.get_data()
    return "OK"
