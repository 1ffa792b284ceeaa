"""Text frontend speed: characters per second of text_to_phones for each language on a long text.

    python -m bench.frontend [--chars 5000] [--languages zh,en,ja,ko,yue]

Each language first runs once on a short sentence (loading dictionaries and models is reported apart as
``load_s``), then on a text of ``--chars`` characters made of varied sentences with numbers and
punctuation. Printed: one line per language.
"""

from __future__ import annotations

import argparse
import time

from GPT_SoVITS.text.frontend import text_to_phones

SAMPLES = {
    "zh": "今天是2024年3月5日，气温为-3.5摄氏度。我花了1234.56元买了3本书！这个小孩儿真可爱，你觉得呢？",
    "en": "In 2023, the price was $12.50, about 15% higher than before. "
    "Dr. Smith's AI model scored 98.6 points! ",
    "ja": "こんにちは、今日はいい天気ですね。東京タワーに行きましょう！3月5日に会議があります。",
    "ko": "안녕하세요, 만나서 반갑습니다. 오늘 날씨가 정말 좋네요! 저는 학생입니다. ",
    "yue": "你好，我係香港人。今日天氣好好，我哋去飲茶啦！佢講咗3次，你聽唔聽到？",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.frontend", description=__doc__.splitlines()[0])
    p.add_argument("--chars", type=int, default=5000, help="length of the benchmark text per language")
    p.add_argument("--languages", default=",".join(SAMPLES), help="comma-separated languages to time")
    p.add_argument("--version", default="v2", choices=["v1", "v2"], help="symbol version")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    unknown = [lang for lang in languages if lang not in SAMPLES]
    if unknown or args.chars <= 0:
        print(f"error: unknown language(s) {unknown} or bad --chars {args.chars}")
        return 2
    print(f"text_to_phones, {args.chars} characters per language, symbols {args.version}")
    for lang in languages:
        sample = SAMPLES[lang]
        start = time.perf_counter()
        text_to_phones(sample, lang, args.version)
        load_s = time.perf_counter() - start
        text = (sample * (args.chars // len(sample) + 1))[: args.chars]
        start = time.perf_counter()
        phones, _, _ = text_to_phones(text, lang, args.version)
        elapsed = time.perf_counter() - start
        print(
            f"{lang:>3}: {args.chars / elapsed:9.0f} chars/s  ({elapsed:.2f} s, {len(phones)} phones, "
            f"first call incl. loading {load_s:.2f} s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
