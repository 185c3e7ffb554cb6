"""``yiwang events`` commands in a separate process on a committed installation."""

import json


def test_classify_json_and_api_key(fresh_install, yiwang_cli):
    r = yiwang_cli(
        fresh_install, "events", "classify", "小区门口下水道堵了，污水冒出来", "楼下烧烤店油烟太大了", "--json"
    )
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)
    assert [x["category_name"] for x in results] == ["下水道堵塞", "餐饮油烟"]
    first = results[0]
    assert first["category_code"] == "200404" and first["major_category"] == "突发事件"
    assert first["department"] == "water" and 0.5 < first["confidence"] <= 1 and first["model_version"]
    key = yiwang_cli(fresh_install, "events", "apikey", "create", "wechat-miniprogram")
    assert key.returncode == 0 and key.stdout.strip().startswith("ek_")
    dup = yiwang_cli(fresh_install, "events", "apikey", "create", "wechat-miniprogram")
    assert dup.returncode == 2 and "已存在" in dup.stderr
    tick = yiwang_cli(fresh_install, "events", "tick")
    assert tick.returncode == 0 and "triaged" in json.loads(tick.stdout)
