@echo off
rem run.cmd: the hcsshim-cpp conformance scenarios against the real HCS
rem and HNS of this Windows host (computecore.dll, computenetwork.dll, vmcompute.dll).
rem Run it from an elevated prompt (Administrator). It writes report\ next
rem to itself: conformance.xml (JUnit, one entry per scenario), host.txt and
rem recordings\ (the HCS traffic of each scenario, replayable on Linux).
rem Arguments go to the suite (e.g. --gtest_filter=HnsApiConformance.*).
setlocal
cd /d "%~dp0"
net session >nul 2>&1
if errorlevel 1 (
  echo run.cmd: HCS and HNS answer administrators only: run it from an elevated prompt.
  exit /b 2
)
set OUT=%~dp0report
if not exist "%OUT%\recordings" mkdir "%OUT%\recordings"
set HCS_BACKEND=hyperv
set HCS_RECORD=%OUT%\recordings\
if not defined HCS_UVM_BOOT_FILES set HCS_UVM_BOOT_FILES=%~dp0boot
> "%OUT%\host.txt" echo hcsshim-cpp conformance against the HCS and HNS of this host
ver >> "%OUT%\host.txt"
hcsdiag.exe list >> "%OUT%\host.txt" 2>&1
hnsdiag.exe list networks >> "%OUT%\host.txt" 2>&1
hcs_api_conformance.exe --gtest_output=xml:"%OUT%\conformance.xml" %*
set RC=%ERRORLEVEL%
echo.
if "%RC%"=="0" (echo RESULT: PASS) else (echo RESULT: FAIL - exit %RC%)
echo Report: %OUT% - attach the whole folder.
exit /b %RC%
