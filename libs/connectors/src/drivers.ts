// The drivers, loaded on first use: a server (and each CPU thread) pays only for the kinds its
// cluster's connections use. All of them at once cost about 10 MB of heap and 0.4 s per thread
// (mysql2 alone about 8 MB), which a CPU thread with a small recycling limit would not survive.
import type amqplib from 'amqplib';
import type * as ioredis from 'ioredis';
import type mysql2 from 'mysql2';
import type pgModule from 'pg';
import type * as undiciModule from 'undici';

let pgLoaded: typeof pgModule | undefined;
let mysqlLoaded: typeof mysql2 | undefined;
let undiciLoaded: typeof undiciModule | undefined;
let redisLoaded: typeof ioredis | undefined;
let amqpLoaded: typeof amqplib | undefined;

export const pg = (): typeof pgModule => (pgLoaded ??= require('pg') as typeof pgModule);
export const mysql = (): typeof mysql2 => (mysqlLoaded ??= require('mysql2') as typeof mysql2);
export const undici = (): typeof undiciModule => (undiciLoaded ??= require('undici') as typeof undiciModule);
export const redis = (): typeof ioredis => (redisLoaded ??= require('ioredis') as typeof ioredis);
export const amqp = (): typeof amqplib => (amqpLoaded ??= require('amqplib') as typeof amqplib);
