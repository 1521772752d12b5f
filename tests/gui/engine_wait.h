// How GUI tests wait for engine work: on a signal or a condition, with a minute's limit. A shared
// CI machine under load can be many times slower than an idle one; a wait ends as soon as its
// condition holds, so the generous limit costs nothing when the machine is idle.
#pragma once

#include <QtTest/QtTest>

constexpr int kJobMs = 60000;

// Qt's QTRY_VERIFY/QTRY_COMPARE give up after 5 s: too short for a busy machine.
#define GP_TRY_VERIFY(expr) QTRY_VERIFY_WITH_TIMEOUT(expr, kJobMs)
#define GP_TRY_COMPARE(actual, expected) QTRY_COMPARE_WITH_TIMEOUT(actual, expected, kJobMs)
