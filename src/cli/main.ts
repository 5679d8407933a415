#!/usr/bin/env node
console.log('oacp: under construction');
