@echo off
rem First run sets up .venv (a few minutes); later runs start at once. Same as ./go-webui.sh on Linux.
setlocal
cd /d "%~dp0"
if not exist .venv\Scripts\python.exe (
  py -3.11 -m venv .venv || python -m venv .venv || goto :error
)
if not exist .venv\.installed-win (
  .venv\Scripts\python.exe -m pip install -c constraints.txt -r requirements.txt || goto :error
  echo ok> .venv\.installed-win
)
set HF_HUB_OFFLINE=1
set GRADIO_ANALYTICS_ENABLED=False
.venv\Scripts\python.exe webui.py %*
goto :eof
:error
echo Setup failed; see the messages above.
exit /b 1
