"""The stickers Tsunagi knows by sight, for the panel and the phone page.

LINE's sticker images cannot be fetched without a network, so each known
sticker is drawn as an emoji; one table keeps the panel and the simulator's
phone page showing the same face for the same sticker. Ids are from LINE's
free sticker package 11537.
"""

STICKERS = (
    {"packageId": "11537", "stickerId": "52002734", "emoji": "😄", "name": "Happy"},
    {"packageId": "11537", "stickerId": "52002735", "emoji": "👍", "name": "OK"},
    {"packageId": "11537", "stickerId": "52002736", "emoji": "🙏", "name": "Thanks"},
    {"packageId": "11537", "stickerId": "52002739", "emoji": "😢", "name": "Sad"},
    {"packageId": "11537", "stickerId": "52002740", "emoji": "😮", "name": "Surprised"},
    {"packageId": "11537", "stickerId": "52002744", "emoji": "❤️", "name": "Love"},
    {"packageId": "11537", "stickerId": "52002748", "emoji": "😡", "name": "Angry"},
    {"packageId": "11537", "stickerId": "52002750", "emoji": "🙇", "name": "Sorry"},
)
