// Precompiled for every engine test: Qt Test (without Qt keywords) and ATen.
#pragma once
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <QtTest/QtTest>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>
