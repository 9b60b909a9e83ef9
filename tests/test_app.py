"""``genrefocus app``: the session layer against the Middlebury ground truth, the generative tab on a
tiny random FLUX, and the whole app in a real (headless) Chromium driven by Selenium.

The sharpness checks use the scene's own ground-truth disparity (Middlebury, measured with structured
light — not ours) to say which pixels lie at the focus distance and which are far from it, and
measure how much of the photo's Laplacian energy each keeps in the *downloaded* PNG."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from scipy import ndimage

from genrefocus.app import AppOptions, RefocusSession, generative_status
from genrefocus.app_ui import build_app
from genrefocus.data.samples import motorcycle
from genrefocus.errors import InputError, MissingWeightsError
from genrefocus.io import save_image

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
#: .ci/run sets this: there the browser test must run, never skip
REQUIRE_BROWSER = os.environ.get("GENREFOCUS_REQUIRE_BROWSER") == "1"


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    """The motorcycle as the user has it: a PNG and its disparity .npy, plus the tensors."""
    d = tmp_path_factory.mktemp("moto")
    image, disp = motorcycle()
    save_image(image, d / "moto.png")
    np.save(d / "moto_disp.npy", disp[0, 0].numpy())
    return {"photo": d / "moto.png", "disp": d / "moto_disp.npy", "image": image, "disparity": disp[0, 0].numpy()}


def read_u8(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def kept_detail(result: np.ndarray, photo: np.ndarray, mask: np.ndarray) -> float:
    """Mean |Laplacian| of ``result`` over ``mask`` divided by that of ``photo`` (grey, [0, 1]): 1 =
    as sharp as the photo, → 0 = blurred away."""
    def lap(a):
        g = a.astype(np.float64).mean(-1) / 255.0
        return np.abs(ndimage.laplace(ndimage.gaussian_filter(g, 0.7)))
    return float(lap(result)[mask].mean() / lap(photo)[mask].mean())


def focus_masks(disparity: np.ndarray, point, K: float) -> tuple:
    """(at the focus distance: ground-truth CoC < 1 px, far from it: CoC > 8 px) for focus at ``point``."""
    x, y = int(point[0]), int(point[1])
    d_f = float(np.median(disparity[y - 3:y + 4, x - 3:x + 4]))
    coc = K * np.abs(disparity - d_f)
    return coc < 1.0, coc > 8.0


FOCUS = (430, 230)  # on the motorcycle's engine (near), in the 741×500 photo


# ----------------------------------------------------------------------------- session layer
def test_session_render_is_sharp_at_the_focus_and_blurred_away_from_it(moto, tmp_path):
    session = RefocusSession(AppOptions(out_dir=tmp_path))
    scene = session.load(str(moto["photo"]), str(moto["disp"]), "disparity")
    assert scene.image.shape[-2:] == (500, 741) and float(scene.disparity.max()) == 1.0
    r = session.render(scene, FOCUS, K=40)
    saved = read_u8(r.png)
    assert saved.shape == (500, 741, 3) and np.array_equal(saved, r.image)
    near, far = focus_masks(moto["disparity"], FOCUS, 40)
    photo = read_u8(moto["photo"])
    k_near, k_far = kept_detail(saved, photo, near), kept_detail(saved, photo, far)
    print(f"kept detail: at the focus distance {k_near:.3f}, far from it {k_far:.3f}")
    assert k_near > 0.75 and k_far < 0.4 * k_near
    # the views: CoC green only where sharp (a blurred pixel is red or blue, never green), depth bright where near
    assert r.coc_view.shape == r.depth_view.shape == (500, 741, 3)
    assert r.coc_view[FOCUS[1], FOCUS[0], 1] > 200
    view = r.coc_view.astype(int)
    # the view shows the CoC of the map the renderer used: the given map with its edges refined
    from genrefocus.optics.depth_refine import refine_disparity

    used = refine_disparity(scene.disparity.float(), scene.image.float())[0, 0].numpy()
    far = focus_masks(used, FOCUS, 40)[1]
    assert (view[far][:, 1] == 0).all() and (view[far][:, [0, 2]].max(1) >= 89).all()  # ≥ 35 % red or blue
    assert r.depth_view[near].mean() > r.depth_view[far].mean()


def test_session_inputs_and_errors(moto, tmp_path):
    session = RefocusSession(AppOptions(out_dir=tmp_path, max_side=300, depth_model=str(tmp_path / "absent")))
    scene = session.load(str(moto["photo"]), str(moto["disp"]), "disparity")
    assert max(scene.image.shape[-2:]) == 300 and scene.disparity.shape[-2:] == scene.image.shape[-2:]
    assert "downscaled from 741×500" in scene.note
    depth_m = 1.0 / (0.2 + moto["disparity"])  # metres, nearer = larger disparity
    np.save(tmp_path / "depth.npy", depth_m.astype(np.float32))
    metric = session.load(str(moto["photo"]), str(tmp_path / "depth.npy"), "depth")
    assert metric.depth_m is not None
    assert np.corrcoef(metric.disparity.flatten().numpy(), scene.disparity.flatten().numpy())[0, 1] > 0.99
    with pytest.raises(MissingWeightsError, match="Upload a depth or disparity map"):
        session.load(str(moto["photo"]))  # no map and no depth model
    with pytest.raises(InputError, match="outside"):
        session.render(scene, (400, 10), K=10)
    with pytest.raises(InputError, match="aperture image"):
        session.render(scene, (100, 100), aperture="image")


@pytest.mark.parametrize("map_kind,flag", [("disparity", "--disparity"), ("depth", "--depth")])
def test_app_and_cli_write_identical_pngs(moto, tmp_path, map_kind, flag):
    """The same photo, map, focus, K, aperture and renderer through the app's session and through
    ``genrefocus render``: the same bytes of pixels (one meaning of K everywhere: a float map is used as
    given by both, depth is read as metres by both)."""
    from genrefocus.cli import main

    session = RefocusSession(AppOptions(out_dir=tmp_path / "app"))
    path = moto["disp"]
    if map_kind == "depth":
        path = tmp_path / "depth.npy"
        np.save(path, (1.0 / (0.25 + moto["disparity"])).astype(np.float32))
    scene = session.load(str(moto["photo"]), str(path), map_kind)
    r = session.render(scene, FOCUS, K=35, aperture="polygon:6", mode="fast")
    assert main(["render", str(moto["photo"]), flag, str(path), "--focus", f"{FOCUS[0]},{FOCUS[1]}", "--K", "35",
                 "--aperture", "polygon:6", "--mode", "fast", "-o", str(tmp_path / "cli.png")]) == 0
    app_png, cli_png = read_u8(r.png), read_u8(tmp_path / "cli.png")
    assert app_png.shape == cli_png.shape and np.array_equal(app_png, cli_png)
    assert np.abs(app_png.astype(int) - read_u8(moto["photo"]).astype(int)).mean() > 2  # it did refocus


def test_session_dual_pixel_pair(shared_data, tmp_path):
    """A real DP capture: the app renders the UiD model's all-in-focus image with its disparity."""
    session = RefocusSession(AppOptions(out_dir=tmp_path, max_side=256))
    scene = session.load(None, dp_pair=str(shared_data / "dp_pairs" / "canon_00.gif"))
    assert "dual-pixel" in scene.source and max(scene.image.shape[-2:]) == 256
    assert scene.disparity.shape[-2:] == scene.image.shape[-2:]
    assert float(scene.disparity.min()) == 0.0 and float(scene.disparity.max()) == 1.0
    r = session.render(scene, (128, 80), K=20)
    assert r.image.shape[:2] == tuple(scene.image.shape[-2:])


def test_session_focus_pull_moves_sharpness(moto, tmp_path):
    from PIL import Image, ImageSequence

    session = RefocusSession(AppOptions(out_dir=tmp_path, max_side=256))
    scene = session.load(str(moto["photo"]), str(moto["disp"]), "disparity")
    near_pt, far_pt = (150, 70), (25, 10)  # engine, wall (at 256 px wide)
    path = session.focus_pull(scene, near_pt, far_pt, frames=5, K=30)
    with Image.open(path) as im:
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]
    assert len(frames) == 5 and frames[0].shape == (173, 256, 3)
    disp = scene.disparity[0, 0].numpy()
    photo = (scene.image[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    near, _ = focus_masks(disp, near_pt, 30)
    far, _ = focus_masks(disp, far_pt, 30)
    first = kept_detail(frames[0], photo, near) / kept_detail(frames[0], photo, far)
    last = kept_detail(frames[-1], photo, near) / kept_detail(frames[-1], photo, far)
    assert first > 1.5 and last < 1 / 1.5


def test_generative_tab_says_what_to_download_without_weights(tmp_path):
    msg = generative_status(AppOptions(flux_model=str(tmp_path / "no-flux"), lora_dir=tmp_path))
    from genrefocus.hub import download_command

    assert download_command("black-forest-labs/FLUX.1-dev", local_dir="./FLUX.1-dev") in msg
    assert "deblurNet.safetensors bokehNet.safetensors" in msg
    app = build_app(RefocusSession(AppOptions(out_dir=tmp_path, flux_model=str(tmp_path / "no-flux"),
                                              lora_dir=tmp_path)))
    texts = [b.get("props", {}).get("value") for b in app.config["components"] if b.get("type") == "markdown"]
    assert any("FLUX.1-dev" in (t or "") for t in texts)


def test_generative_tab_runs_the_generative_pipeline(moto, tmp_path):
    """With a (tiny random) GenRefocusPipeline attached, the tab's call is the pipeline's refocus."""
    from genrefocus.pipelines.random_weights import random_pipeline

    pipe = random_pipeline(loras={"deblur": {"rank": 2, "seed": 1}, "bokeh": {"rank": 2, "seed": 2}},
                           lora_dir=tmp_path / "loras")
    session = RefocusSession(AppOptions(out_dir=tmp_path, max_side=64), generative=pipe)
    np.save(tmp_path / "depth.npy", (1.0 / (0.2 + moto["disparity"])).astype(np.float32))
    with pytest.raises(MissingWeightsError, match="metric depth"):
        session.generative_refocus(session.load(str(moto["photo"]), str(moto["disp"]), "disparity"), (10, 10))
    scene = session.load(str(moto["photo"]), str(tmp_path / "depth.npy"), "depth")
    path = session.generative_refocus(scene, (30, 20), K=20, steps=1, seed=0)
    out = read_u8(path)
    assert out.shape[:2] == tuple(scene.image.shape[-2:])
    gen = torch.Generator("cpu").manual_seed(0)
    ref = pipe.refocus(scene.image, focus=(30.0, 20.0), K=20.0, depth=scene.depth_m, num_inference_steps=1,
                       generator=gen).image
    assert np.abs(out.astype(int) - read_u8(save_image(ref, tmp_path / "ref.png")).astype(int)).max() <= 1
    assert "generative-button" in str(build_app(session).config)


# ----------------------------------------------------------------------------- real browser
def _browser_or_skip():
    missing = [n for n, p in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if p is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium")
    if missing:
        msg = f"browser test needs {', '.join(missing)} (apt-get install chromium chromium-driver; pip install selenium)"
        if REQUIRE_BROWSER:
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture
def app_server(tmp_path):
    """``genrefocus app --port 0`` in a subprocess (no depth model, no FLUX: offline); yields its URL."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    log = open(tmp_path / "server.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "genrefocus.cli", "app", "--port", "0", "--out-dir",
                             str(tmp_path / "server_out"), "--depth-model", str(tmp_path / "no-depth-model"),
                             "--model", str(tmp_path / "no-flux")], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        url = None
        for _ in range(240):
            log.seek(0)
            text = log.read()
            m = re.search(r"genrefocus app on (http://127\.0\.0\.1:\d+)", text)
            if m and "Running on" in text:
                url = m.group(1)
                break
            if proc.poll() is not None:
                pytest.fail(f"the app exited: {text[-2000:]}")
            time.sleep(0.5)
        assert url, "the app did not start within 120 s"
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_app_in_a_real_browser(app_server, moto, tmp_path):
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1500,1300"):
        opts.add_argument(a)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    wait = WebDriverWait(driver, 120, poll_frequency=0.25)
    status = lambda: driver.find_element(By.ID, "status").text  # noqa: E731

    def click_button(text: str) -> None:
        """Click the visible button with ``text`` (Gradio keeps hidden copies of tab buttons)."""
        wait.until(lambda d: [b for b in d.find_elements(By.XPATH, f"//button[contains(., '{text}')]")
                              if b.is_displayed()])
        [b for b in driver.find_elements(By.XPATH, f"//button[contains(., '{text}')]") if b.is_displayed()][0].click()

    def download(n: int) -> np.ndarray:
        """Click 'Download PNG' and read the n-th file Chromium saves."""
        driver.find_element(By.ID, "download").click()
        wait.until(lambda _: len([p for p in downloads.iterdir() if p.suffix == ".png"]) >= n)
        path = sorted((p for p in downloads.iterdir() if p.suffix == ".png"), key=lambda p: p.stat().st_mtime)[-1]
        return read_u8(path)

    def legend():
        """The CoC view's label: the legend the app measured on the render."""
        return driver.find_element(By.CSS_SELECTOR, "#coc-view").text

    renders = lambda: sorted((tmp_path / "server_out").glob("refocused_*.png"))  # noqa: E731
    try:
        driver.get(app_server)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#photo input[type=file]"))
        # the generative tab says what to download (no FLUX here), with the installed Hub tool's command
        click_button("Generative (FLUX)")
        from genrefocus.hub import download_command

        flux_cmd = download_command("black-forest-labs/FLUX.1-dev", local_dir="./FLUX.1-dev")
        wait.until(lambda d: flux_cmd in d.find_element(By.ID, "generative-missing").text)
        # no depth model: the depth accordion says a map is required, and is open
        acc = driver.find_element(By.ID, "depth-accordion")
        assert "required" in acc.text and "no depth model" in acc.text, acc.text
        # 1. the photo alone: the error stays in the status line, with what to do in the app
        driver.find_element(By.CSS_SELECTOR, "#photo input[type=file]").send_keys(str(moto["photo"]))
        wait.until(lambda _: "No depth model" in status())
        time.sleep(3)  # the app shows errors in the status line, never as a toast: nothing may clear it
        assert "No depth model" in status() and "--depth-model" in status() and "Upload a depth" in status()
        # 2. the disparity map
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#depth-map input[type=file]"))
        driver.find_element(By.CSS_SELECTOR, "#depth-map input[type=file]").send_keys(str(moto["disp"]))
        wait.until(lambda _: "rendered" in status() and "uploaded disparity" in status())
        # 3. click the focus point on the photo (element px → image px)
        img = driver.find_element(By.CSS_SELECTOR, "#picker img")
        nat_w = driver.execute_script("return arguments[0].naturalWidth", img)
        scale = img.size["width"] / nat_w
        ActionChains(driver).move_to_element_with_offset(
            img, (FOCUS[0] + 0.5) * scale - img.size["width"] / 2,
            (FOCUS[1] + 0.5) * scale - img.size["height"] / 2).click().perform()
        focus_re = r"focus \((\d+), (\d+)\) at disparity ([0-9.]+)"
        wait.until(lambda _: re.search(focus_re, status()) and "K=20 " in status()
                   and abs(int(re.search(focus_re, status()).group(1)) - FOCUS[0]) <= 3)
        x, y, d_f = re.search(focus_re, status()).groups()
        assert abs(int(x) - FOCUS[0]) <= 3 and abs(int(y) - FOCUS[1]) <= 3
        first, k_first = download(1), 20.0
        # the CoC legend is measured on the render: the map spans [0, 1], so K·(1 − d_f) px in front, K·d_f behind
        wait.until(lambda _: "up to" in legend())
        front, behind = (float(v) for v in re.search(r"in front, up to (\d+) px · blue: behind, up to (\d+) px",
                                                     legend()).groups())
        assert abs(front - k_first * (1 - float(d_f))) <= 1 and abs(behind - k_first * float(d_f)) <= 1, legend()
        # 4. drag the K slider from 20 to about 65; "K at the end" follows K (the user has not moved it)
        rng = driver.find_element(By.CSS_SELECTOR, "#k-slider input[type=range]")
        w = rng.size["width"]
        ActionChains(driver).move_to_element_with_offset(rng, 0.20 * w - w / 2, 0).click_and_hold() \
            .move_by_offset(0.22 * w, 0).move_by_offset(0.23 * w, 0).release().perform()
        k_number = driver.find_element(By.CSS_SELECTOR, "#k-slider input[type=number]")
        k_shown = float(k_number.get_attribute("value"))
        assert 50 <= k_shown <= 85, k_shown
        wait.until(lambda _: f"K={k_shown:g} " in status() and "rendered" in status())
        second = download(2)
        k_end = driver.find_element(By.CSS_SELECTOR, "#k-end-slider input[type=number]")
        wait.until(lambda _: float(k_end.get_attribute("value")) == k_shown)
        # 5. typing a K digit by digit renders once, with the number typed (not with its first digit)
        before = len(renders())
        k_number.send_keys(Keys.CONTROL, "a")
        k_number.send_keys("8")
        time.sleep(0.1)
        k_number.send_keys("0")
        wait.until(lambda _: "K=80 " in status() and len(renders()) > before)
        time.sleep(3)
        typed = renders()[before:]
        assert len(typed) == 1 and "K=80 " in status(), (len(typed), status())
        driver.save_screenshot(str(tmp_path / "app.png"))
        if os.environ.get("GENREFOCUS_APP_SCREENSHOT"):
            driver.save_screenshot(os.environ["GENREFOCUS_APP_SCREENSHOT"])
    finally:
        driver.quit()
    # 4. measured on the downloaded results, with the ground-truth disparity
    photo = read_u8(moto["photo"])
    assert first.shape == second.shape == photo.shape
    near, far = focus_masks(moto["disparity"], FOCUS, k_shown)
    far30 = focus_masks(moto["disparity"], FOCUS, k_first)[1]
    changed = np.abs(second.astype(int) - first.astype(int)).mean()
    k1 = kept_detail(first, photo, near), kept_detail(first, photo, far30)
    k2 = kept_detail(second, photo, near), kept_detail(second, photo, far)
    print(f"browser: mean |Δ| {changed:.2f}/255; kept detail near/far K={k_first:g} {k1[0]:.3f}/{k1[1]:.3f}, "
          f"K={k_shown:g} {k2[0]:.3f}/{k2[1]:.3f}")
    assert changed > 1.0
    assert k2[0] > 0.75 and k2[1] < 0.4 * k2[0]  # the focus region is the sharp one
    assert kept_detail(second, photo, far30) < k1[1]  # a larger K blurs what is away from the focus more
    assert (tmp_path / "app.png").stat().st_size > 10_000
