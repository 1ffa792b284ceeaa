"""Mandarin tone sandhi on jieba words: 不 and 一 changes, neutral tones, third-tone chains, erhua.

Tones are the last character of pypinyin TONE3 finals ("ao3"; 5 = neutral). The rules and their order
are those of the official frontend (from PaddleSpeech), so the tones match what the models learned.
"""

from __future__ import annotations

from functools import cache


def _words(text: str) -> list[str]:
    """Whitespace-separated items (keeps long word tables readable)."""
    return text.split()


# Two-syllable words whose second syllable is neutral in standard Mandarin.
NEUTRAL_WORDS: frozenset[str] = frozenset(
    _words(
        "麻烦 麻利 骨头 馒头 风筝 队伍 闺女 钥匙 里头 部分 那么 这么 这个 那个 什么 "
        "怎么 多么 过去 踏实 结实 扎实 老实 跟头 豆腐 讲究 记性 认识 规矩 见识 裁缝 "
        "补丁 衣裳 衣服 衙门 街坊 行李 蛤蟆 蘑菇 薄荷 葫芦 葡萄 萝卜 苗条 苗头 苍蝇 "
        "芝麻 舒服 舒坦 舌头 自在 脾气 脑袋 能耐 胳膊 胭脂 胡琴 胡同 聪明 耽误 耽搁 "
        "耳朵 老爷 老婆 老头 老太 翻腾 罐头 红火 糊涂 精神 粮食 簸箕 篱笆 算计 算盘 "
        "答应 笑话 窟窿 窝囊 窗户 稳当 稀罕 称呼 秧歌 秀气 秀才 福气 祖宗 码头 石榴 "
        "石头 知识 眼睛 眉毛 相声 盘算 痛快 疙瘩 疏忽 畜生 生意 甘蔗 琵琶 琢磨 玻璃 "
        "玫瑰 狐狸 状元 牲口 爽快 爱人 热闹 烧饼 点心 灯笼 火候 漂亮 溜达 温和 清楚 "
        "消息 活泼 比方 正经 欺负 模糊 棉花 核桃 栅栏 枕头 机灵 本事 木头 木匠 朋友 "
        "月饼 月亮 暖和 明白 时候 新鲜 故事 收拾 挑剔 指甲 指头 拳头 招牌 招呼 护士 "
        "折腾 扫帚 打量 打算 打扮 打听 打发 扁担 戒指 意思 怪物 念头 快活 心思 张罗 "
        "弟兄 应酬 庄稼 师父 师傅 巴掌 工夫 功夫 岁数 屁股 尾巴 少爷 小气 小伙 将就 "
        "对头 对付 寡妇 家伙 客气 实在 官司 学问 学生 嫁妆 媳妇 媒人 婆家 娘家 委屈 "
        "姑娘 姐夫 妥当 奴才 女婿 头发 太阳 大爷 大方 大夫 外甥 地道 地方 在乎 困难 "
        "嘴巴 嘱咐 嘀咕 喜欢 喇叭 商量 哑巴 哆嗦 咳嗽 和尚 告诉 含糊 吓唬 后头 名字 "
        "合同 吆喝 口袋 厚道 厉害 包袱 勤快 动静 动弹 力气 前头 刺猬 别扭 利落 利索 "
        "利害 出息 凑合 凉快 冤枉 冒失 关系 先生 兄弟 便宜 佩服 体面 伙计 休息 人家 "
        "亲戚 亲家 云彩 事情 买卖 主意 丫头 东西 东家 下巴 上头 丈夫 丈人 菩萨 父亲 "
        "母亲 冤家 甜头 介绍 荒唐 大人 幸福 熟悉 计划 蜡烛 照顾 喉咙 吉他 凤凰 糟蹋 "
        "报复 逻辑 牢骚 咖喱 惦记 运气 连累 首饰 马虎 骆驼 状况 特务 编辑 差事 帐篷 "
        "帮手 巴结 思量 悟性 情形 挖苦 提防 拨弄 抬举 跳蚤 钥匙 鸳鸯 高粱 馄饨 锄头 "
    )
)
# Words that look reduplicated or end in 子 but keep their full tones.
NOT_NEUTRAL_WORDS: frozenset[str] = frozenset(
    _words("男子 女子 分子 原子 量子 莲子 石子 瓜子 电子 人人 虎虎 孔子 孟子 ")
)

# Words ending in 儿 that are read as a separate syllable (child, person, animal) rather than as erhua.
NOT_ERHUA: frozenset[str] = frozenset(
    _words(
        "女儿 男儿 孤儿 婴儿 幼儿 婴幼儿 患儿 少儿 胎儿 健儿 宠儿 混血儿 流浪儿 孙儿 "
        "侄儿 侄孙儿 妻儿 乞儿 聋儿 脑瘫儿 体弱儿 连体儿 红孩儿 我儿 有儿 一儿 鸟儿 "
        "花儿 虫儿 马儿 猪儿 猫儿 狗儿 鱼儿 可儿 美儿 祖儿 "
    )
)
MUST_ERHUA: frozenset[str] = frozenset(
    _words("小院儿 胡同儿 范儿 老汉儿 撒欢儿 妥妥儿 媳妇儿 玩儿 一点儿 一会儿 ")
)

_SENTENCE_FINAL_PARTICLES = "吧呢哈啊呐噻嘛吖嗨哦哒额滴哩哟喽啰耶喔诶"
_PUNCT = "：，；。？！“”‘’':,;.?!"


def _set_tone(final: str, tone: str) -> str:
    return final[:-1] + tone


def _all_third(finals: list[str]) -> bool:
    return all(f[-1] == "3" for f in finals)


@cache
def finals_tone3(word: str) -> tuple[str, ...]:
    from pypinyin import Style, lazy_pinyin

    return tuple(lazy_pinyin(word, neutral_tone_with_five=True, style=Style.FINALS_TONE3))


def split_word(word: str) -> list[str]:
    """Two parts of a word: its shortest search-mode sub-word and the rest (蒙古包 -> 蒙古 + 包)."""
    import jieba

    parts = sorted(jieba.cut_for_search(word), key=len)
    first = parts[0]
    if word.find(first) == 0:
        return [first, word[len(first) :]]
    return [word[: -len(first)], first]


def _bu(word: str, finals: list[str]) -> list[str]:
    if len(word) == 3 and word[1] == "不":  # 看不懂
        finals[1] = _set_tone(finals[1], "5")
        return finals
    for i, ch in enumerate(word):
        if ch == "不" and i + 1 < len(word) and finals[i + 1][-1] == "4":  # 不怕 -> bu2
            finals[i] = _set_tone(finals[i], "2")
    return finals


_DIGITS = "零一二三四五六七八九幺"


def _next_to_digit(word: str, i: int) -> bool:
    return (i > 0 and word[i - 1] in _DIGITS) or (i + 1 < len(word) and word[i + 1] in _DIGITS)


def _yi(word: str, finals: list[str]) -> list[str]:
    if "一" in word and all(ch.isnumeric() for ch in word if ch != "一"):  # 一零零: a digit sequence
        return finals
    # Next to another digit 一 is read digit by digit and keeps tone 1 (一九八四年, 十一月); the official
    # rule only looks at whole words, so 一九八四年 would become yi4.
    keep = {i for i, ch in enumerate(word) if ch == "一" and _next_to_digit(word, i)}
    if len(word) == 3 and word[1] == "一" and word[0] == word[-1]:  # 看一看
        finals[1] = _set_tone(finals[1], "5")
    elif word.startswith("第一"):  # ordinal
        finals[1] = _set_tone(finals[1], "1")
    else:
        for i, ch in enumerate(word):
            if ch == "一" and i + 1 < len(word) and i not in keep:
                if finals[i + 1][-1] == "4":  # 一段 -> yi2
                    finals[i] = _set_tone(finals[i], "2")
                elif word[i + 1] not in _PUNCT:  # 一天 -> yi4
                    finals[i] = _set_tone(finals[i], "4")
    return finals


def _neutral(word: str, pos: str, finals: list[str]) -> list[str]:
    for j in range(1, len(word)):  # reduplicated nouns/verbs/adjectives: 奶奶, 试试
        if word[j] == word[j - 1] and pos[:1] in ("n", "v", "a") and word not in NOT_NEUTRAL_WORDS:
            finals[j] = _set_tone(finals[j], "5")
    ge = word.find("个")
    last = word[-1] if word else ""
    if (
        (last and last in _SENTENCE_FINAL_PARTICLES)
        or (last and last in "的地得")
        or (len(word) == 1 and word in "了着过" and pos in ("ul", "uz", "ug"))
        or (len(word) > 1 and last in "们子" and pos in ("r", "n") and word not in NOT_NEUTRAL_WORDS)
        or (len(word) > 1 and last in "上下里" and pos in ("s", "l", "f"))
        or (len(word) > 1 and last in "来去" and word[-2] in "上下进出回过起开")
    ):
        finals[-1] = _set_tone(finals[-1], "5")
    elif (ge >= 1 and (word[ge - 1].isnumeric() or word[ge - 1] in "几有两半多各整每做是")) or word == "个":
        finals[ge] = _set_tone(finals[ge], "5")
    elif word in NEUTRAL_WORDS or word[-2:] in NEUTRAL_WORDS:
        finals[-1] = _set_tone(finals[-1], "5")
    parts = split_word(word)
    groups = [finals[: len(parts[0])], finals[len(parts[0]) :]]
    for i, part in enumerate(parts):
        if groups[i] and (part in NEUTRAL_WORDS or part[-2:] in NEUTRAL_WORDS):
            groups[i][-1] = _set_tone(groups[i][-1], "5")
    return groups[0] + groups[1]


def _third(word: str, finals: list[str]) -> list[str]:
    if len(word) == 2 and _all_third(finals):  # 你好 -> ni2 hao3
        finals[0] = _set_tone(finals[0], "2")
    elif len(word) == 3:
        parts = split_word(word)
        if _all_third(finals):
            if len(parts[0]) == 2:  # 蒙古/包
                finals[0] = _set_tone(finals[0], "2")
                finals[1] = _set_tone(finals[1], "2")
            elif len(parts[0]) == 1:  # 纸/老虎
                finals[1] = _set_tone(finals[1], "2")
        else:
            groups = [finals[: len(parts[0])], finals[len(parts[0]) :]]
            for i, sub in enumerate(groups):
                if len(sub) == 2 and _all_third(sub):  # 所有/人
                    sub[0] = _set_tone(sub[0], "2")
                elif (
                    i == 1 and sub and not _all_third(sub) and sub[0][-1] == "3" and groups[0][-1][-1] == "3"
                ):
                    groups[0][-1] = _set_tone(groups[0][-1], "2")  # 好/喜欢
            finals = groups[0] + groups[1]
    elif len(word) == 4:  # idioms: two pairs
        pairs = [finals[:2], finals[2:]]
        for sub in pairs:
            if _all_third(sub):
                sub[0] = _set_tone(sub[0], "2")
        finals = pairs[0] + pairs[1]
    return finals


def modify_tones(word: str, pos: str, finals: list[str]) -> list[str]:
    finals = _bu(word, list(finals))
    finals = _yi(word, finals)
    finals = _neutral(word, pos, finals)
    return _third(word, finals)


def erhua(word: str, pos: str, finals: list[str]) -> list[str]:
    """A word-final 儿 takes the tone of the syllable before it (小孩儿: er2 after hai2), unless it is a
    separate word (女儿) or the word is an adjective, abbreviation or name."""
    finals = list(finals)
    if finals and word.endswith("儿") and finals[-1] == "er1":
        finals[-1] = "er2"
    if word not in MUST_ERHUA and (word in NOT_ERHUA or pos in ("a", "j", "nr")):
        return finals
    if len(finals) != len(word) or len(word) < 2:
        return finals
    if finals[-1] in ("er2", "er5") and word[-2:] not in NOT_ERHUA:
        finals[-1] = "er" + finals[-2][-1]
    return finals
